# guest: hello
# exit: 0
# serial: done
# expect: exited normally
# examples/README.md: what `hello` prints when nobody changes it (the block marked hello-undisturbed).
continue
