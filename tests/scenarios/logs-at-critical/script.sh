#!/bin/sh
echo "script says hi"
