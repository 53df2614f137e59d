# guest: hello
# exit: 0
# serial: done
# After detach the breakpoints are gone and the guest runs to its end.
break tick
continue
expect_eq $pc tick "stopped at tick"
detach
