//! The cost token mode adds to a handshake: verifying one HS256 token (signature, `exp`,
//! the player id). Run with `cargo bench --bench token`.

use std::time::Duration;

use arena::base::ids::{DisplayName, PlayerId};
use arena::services::auth::token::Tokens;
use criterion::{Criterion, criterion_group, criterion_main};

fn verify(c: &mut Criterion) {
    let tokens = Tokens::new(b"bench-secret-0123456789abcdef-0123456789");
    let player = PlayerId::parse("alice").expect("valid id");
    let name = DisplayName::parse("Alice").expect("valid name");
    let token = tokens
        .issue(&player, Some(&name), vec![], Duration::from_secs(3600))
        .expect("signed");
    c.bench_function("token verify (HS256)", |b| {
        b.iter(|| tokens.verify(std::hint::black_box(&token)).expect("valid"))
    });
    c.bench_function("token issue (HS256)", |b| {
        b.iter(|| {
            tokens
                .issue(&player, None, vec![], Duration::from_secs(3600))
                .expect("signed")
        })
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
