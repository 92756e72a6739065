from xkit.cli import main

main()
