from paretoalign.align.examples import main

main()
