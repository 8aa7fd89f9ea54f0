from jsim.cli import main

main(prog_name="jsim")
