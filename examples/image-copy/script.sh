#!/bin/sh
# Copies the input file (any type: sent base64-encoded) to the output, keeping its name,
# and stores a copy in the local storage provider (see function_config.yaml).
echo "received $(basename "$INPUT_FILE_PATH") ($INPUT_FILE_MIME)"
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"
