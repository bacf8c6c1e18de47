from boxwise.cli import run

run()
