# guest: lesson-7-page-faults
# exit: 2
# serial: page fault at 0x200000000, error code 0x2: mapped
# serial: page fault at 0x200001000, error code 0x2: mapped
# serial: read back: 0x6666
# Lesson 7 (examples/lesson-7-page-faults/LESSON.md): a #PF handler that maps the missing page and returns, so
# the faulting store runs again; the page walk before, after the handler, and after the store.
hbreak exception
continue
p/x $cr2
p/x f->error
x/i f->rip
expect_eq $cr2 0x200000000 "the first store faulted at 0x200000000"
expect_eq f->error 2 "error code 2: not present, a write, kernel mode"
monitor translate 0x200000000
finish
monitor translate 0x200000000
hbreak written
continue
monitor translate 0x200000000
# gdb's memory map from kvmstub lists RAM; 8 GiB is the guest's own mapping: let the stub answer there.
set mem inaccessible-by-default off
x/2gx 0x200000000
expect_eq *(long*)0x200000000 0x1111 "the store went through the new page"
continue
p/x $cr2
expect_eq $cr2 0x200001000 "the next page faults in its turn"
expect_eq pool_used 3 "so far a page directory, a page table and the first page"
delete
continue
