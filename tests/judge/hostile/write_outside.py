# Everything but /tmp is read-only or absent; /tmp works.
import os
wrote = []
for path in ["/usr/x", "/box/x", "/x", "/etc/x", "/home/x", "/opt/x", "/proc/sys/kernel/hostname", "/sys/kernel/x"]:
    try:
        with open(path, "w") as f:
            f.write("x")
        wrote.append(path)
    except OSError:
        pass
with open("/tmp/x", "w") as f:
    f.write("fine")
print("wrote " + " ".join(wrote) if wrote else "only tmp")
