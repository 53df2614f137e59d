# guest: own-int3
# exit: 0
# serial: own-int3: 2 int3s handled by the guest
# serial: own-int3: watched=1
# A guest that runs int3 twice itself (its own #BP handler counts them) before gdb's breakpoints: kvmstub gives
# both back to the guest and its own `break`, `hbreak` and `watch` still stop the guest afterwards. (Each #BP is
# re-injected with KVM_SET_GUEST_DEBUG(INJECT_BP); the flags it carries must keep guest debugging enabled, or
# the second takes every breakpoint and watchpoint away.)
break after_own_int3s
hbreak serial_puts
continue
expect_eq $pc after_own_int3s "break (Z0) stopped after the guest's two int3s"
expect_eq own_int3s 2 "the guest's handler saw both int3s"
delete 1
watch watched
continue
expect_eq watched 1 "watch stopped on the write after them"
delete 3
continue
expect_eq $pc serial_puts "hbreak (Z1) still stops"
delete
continue
