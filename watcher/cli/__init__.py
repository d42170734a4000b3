"""The command line: argument parsing, exit codes, and the commands."""
