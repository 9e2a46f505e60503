const fs = require("fs");
const line = "x".repeat(4096) + "\n";
for (;;) fs.writeSync(1, line);
