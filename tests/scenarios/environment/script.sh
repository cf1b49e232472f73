#!/bin/sh
echo "GREETING=$GREETING"
echo "METHOD=$Http_Method"
echo "QUERY=$Http_Query"
echo "TMP_INPUT_DIR set: ${TMP_INPUT_DIR:+yes}"
echo "TMP_OUTPUT_DIR set: ${TMP_OUTPUT_DIR:+yes}"
echo "cwd is input dir: $( [ "$(pwd)" = "$TMP_INPUT_DIR" ] && echo yes)"
echo "dirs private: $(stat -c %a "$TMP_INPUT_DIR") $(stat -c %a "$TMP_OUTPUT_DIR")"
