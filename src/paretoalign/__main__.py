from paretoalign.cli import main

main()
