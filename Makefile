# Shortcuts for scripts/bootstrap.sh, which does the work (and is the entry point where make is missing).
#   make demo    make test    make test ARGS="-k preview"    TORCH=cuda make test
ARGS ?=

.PHONY: demo test env
demo test env:
	@scripts/bootstrap.sh $@ $(ARGS)
