#!/bin/sh
# Text is shouted into an output file; anything else is described (the logs
# response), so the tests can see what the injected supervisor gave the script.
case "$INPUT_FILE_MIME" in
    text/*) shout < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")" ;;
    *) echo "mime=$INPUT_FILE_MIME name=$(basename "$INPUT_FILE_PATH")" \
            "ld_library_path=${LD_LIBRARY_PATH-unset} magic=${MAGIC-unset}" \
            "python=$(command -v python3 || echo none) pyinstaller_vars=$(env | grep -c '^_PYI_')" ;;
esac
