#!/bin/sh
# Any image ImageMagick reads -> the same image, same name and format, in grayscale.
# The supervisor gives an extension-less input the one of its type (photo -> photo.png).
set -e
name=$(basename "$INPUT_FILE_PATH")
echo "converting $name ($INPUT_FILE_MIME) to grayscale"
convert "$INPUT_FILE_PATH" -colorspace Gray "$TMP_OUTPUT_DIR/$name"
