# Assertions for kvmstub's scripted gdb sessions. Each prints one line starting PASS: or FAIL:;
# run.sh fails a script that prints any FAIL:, checks nothing, or stops on an error.
# gdb splits a user command's arguments at blanks: write expressions without spaces, labels in quotes.
# (echo, not printf "%s": printf of a string literal would need malloc in the guest.)

# expect_eq VALUE EXPECTED "LABEL" — integers
define expect_eq
  if ($arg0) == ($arg1)
    echo PASS: $arg2\n
  else
    echo FAIL: $arg2: got\ 
    output/x $arg0
    echo , expected\ 
    output/x $arg1
    echo \n
  end
end

# expect_true CONDITION "LABEL"
define expect_true
  if ($arg0)
    echo PASS: $arg1\n
  else
    echo FAIL: $arg1\n
  end
end
