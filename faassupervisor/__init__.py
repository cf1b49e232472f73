"""faas-supervisor: turns any container image plus a shell script into a serverless function.

The supervisor decodes one invocation (an HTTP body or a storage event) into an
input file, runs the user's script, uploads what it wrote and answers with one
file, a zip, or its logs. See README.md for the contract.
"""

__version__ = "2.0.0.dev0"
