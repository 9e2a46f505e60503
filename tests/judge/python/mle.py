blocks = []
while True:
    blocks.append(b"x" * (16 << 20))
