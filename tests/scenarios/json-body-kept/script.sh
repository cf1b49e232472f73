#!/bin/sh
cat "$INPUT_FILE_PATH"
