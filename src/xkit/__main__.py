from xkit.cli import main

# Guarded: the processes of `xkit serve --workers N` start as fresh interpreters that import
# this module again (as __mp_main__), and must not run the command line a second time.
if __name__ == "__main__":
    main()
