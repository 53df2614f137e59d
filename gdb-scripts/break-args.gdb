# guest: hello
# exit: 0
# serial: add(2, 3) = 5
# A breakpoint on a function, its arguments, the caller in bt, finish's return value; a second
# breakpoint hit in a loop.
break add
continue
expect_eq $pc add "stopped at add"
expect_eq a 2 "first argument a"
expect_eq b 3 "second argument b"
bt
finish
expect_eq $ 5 "add returned 5"
delete
break tick
continue
expect_eq $pc tick "stopped at tick"
expect_eq counter 0 "counter before the first tick"
continue
expect_eq counter 1 "counter after one tick"
delete
continue
