#!/bin/sh
# Text -> speech, as a WAV file named after the input (VOICE picks espeak-ng's voice, default English).
set -e
name=$(basename "$INPUT_FILE_PATH")
espeak-ng -v "${VOICE:-en}" -f "$INPUT_FILE_PATH" -w "$TMP_OUTPUT_DIR/${name%.*}.wav"
