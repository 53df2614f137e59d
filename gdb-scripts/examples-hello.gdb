# guest: hello
# exit: 3
# serial: counter=120
# serial: message=Kvmstub
# examples/README.md's walkthrough of `hello`, command by command.
break add
continue
expect_eq a 2 "stopped in add(2, 3)"
info args
bt
finish
stepi
x/i $pc
p counter
p origin
p message
break tick
continue
expect_eq $pc tick "stopped in tick"
set var counter = 100
set var message[0] = 'K'
delete
continue
