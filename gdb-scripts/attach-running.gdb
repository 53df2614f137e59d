# guest: spin
# run: --no-wait
# running: spinning
# exit: 7
# serial: stopped after
# gdb attaches to a guest that is already running (no --wait): the stub stops it, as QEMU does.
expect_true (spins>0) "the guest was running before gdb attached"
info threads
set var stop_spinning = 1
continue
