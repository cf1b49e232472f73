#!/bin/sh
wc -c < "$INPUT_FILE_PATH"
