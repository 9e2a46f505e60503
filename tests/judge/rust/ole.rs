use std::io::Write;
fn main() {
    let line = [b'x'; 4096];
    let mut out = std::io::stdout().lock();
    loop {
        out.write_all(&line).unwrap();
    }
}
