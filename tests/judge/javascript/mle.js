const blocks = [];
for (;;) blocks.push(Buffer.alloc(16 << 20, 1));
