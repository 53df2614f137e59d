# Ctrl-C (0x03) while the guest runs, with acks on (set remote noack-packet off before connecting).
python
import os, signal, threading
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
end
continue
p spins
info registers rip
set var stop_spinning = 1
continue
