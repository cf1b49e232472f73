#!/bin/sh
od -An -c "$INPUT_FILE_PATH" | tr -s ' '
