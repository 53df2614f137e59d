# guest: arm64/hello
# gdb: gdb-multiarch
# exit: 0
# serial: counter=20
# serial: done
# After detach the breakpoints are gone (the BRKs kvmstub planted are taken out of guest memory) and the
# guest runs to its end.
break tick
continue
expect_eq $pc tick "stopped at tick"
x/i $pc
detach
