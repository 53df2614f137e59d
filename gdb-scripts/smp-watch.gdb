# guest: smp
# cpus: 2
# serial: counter=
# expect: Hardware watchpoint 1: counter
# Two vCPUs are two gdb threads. A hardware watchpoint (Z2, in every vCPU's debug registers) stops on
# writes from either; the stop reply names the vCPU that wrote. Switching threads reads that vCPU's
# registers.
info threads
expect_eq $_gthread 1 "thread 1 (vCPU 0) is current at the start"
watch counter
set $by1 = 0
set $by2 = 0
set $i = 0
while ($i < 450 && !($by1 && $by2))
  continue
  if $_thread == 1
    set $by1 = $by1 + 1
  end
  if $_thread == 2
    set $by2 = $by2 + 1
  end
  set $i = $i + 1
end
expect_true ($by1>0) "vCPU 0 (thread 1) was caught writing counter"
expect_true ($by2>0) "vCPU 1 (thread 2) was caught writing counter"
delete
thread 2
expect_eq $_thread 2 "thread 2 selected"
expect_true ($rsp<0x7ff0000&&$rsp>0x7fe0000) "thread 2 has its own stack, 64 KiB below vCPU 0's"
thread 1
expect_true ($rsp>0x7ff0000) "thread 1 has the top stack"
continue
