#!/bin/sh
# Regenerate the build system; configure and Makefile.in are never committed.
exec autoreconf -fi
