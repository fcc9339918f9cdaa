//! Token-endpoint throughput (client credentials over loopback HTTPS) and the cost of signing
//! one access token.
//!
//! `cargo bench -p entra-emulator --bench token_endpoint`
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use entra_emulator::{Emulator, crypto::SigningKey, jwt};
use serde_json::json;

fn signing(c: &mut Criterion) {
    let key =
        SigningKey::from_pem(&entra_emulator::crypto::generate_rsa_key_pem().unwrap()).unwrap();
    let claims = json!({
        "aud": "api://emulator-api", "iss": "https://127.0.0.1:1/7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801/v2.0",
        "iat": 1_800_000_000, "nbf": 1_800_000_000, "exp": 1_800_003_599, "azp": "9e8f7a6b-5c4d-4e3f-a2b1-c0d9e8f7a613",
        "azpacr": "1", "idtyp": "app", "oid": "0b7d4c52-0000-4000-8000-000000000001", "roles": [],
        "sub": "0b7d4c52-0000-4000-8000-000000000001", "tid": "7a1c0f52-3d8e-4b6a-9f21-c4e5d6b7a801",
        "uti": "AAAAAAAAAAAAAAAAAAAAAA", "ver": "2.0",
    });
    c.bench_function("sign access token (RS256, 2048-bit)", |b| {
        b.iter(|| jwt::sign(&key, &claims).unwrap())
    });
}

fn client_credentials(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (emulator, http, form, url) = rt.block_on(async {
        let emulator = Emulator::start(entra_emulator::ready_made().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let info = emulator.connection_info(dir.path()).unwrap();
        let confidential = info.confidential_client.unwrap();
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(emulator.ca_pem().unwrap().as_bytes()).unwrap(),
            )
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        let form = vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".to_string(), confidential.client_id),
            (
                "client_secret".to_string(),
                confidential.client_secret.unwrap(),
            ),
            ("scope".to_string(), confidential.scope),
        ];
        let url = format!("{}/oauth2/v2.0/token", info.authority);
        (emulator, http, form, url)
    });
    let mut group = c.benchmark_group("client_credentials over loopback HTTPS");
    group.measurement_time(Duration::from_secs(8));
    for concurrency in [1usize, 16] {
        group.throughput(Throughput::Elements(concurrency as u64));
        group.bench_with_input(
            BenchmarkId::new("concurrent requests", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt).iter(|| {
                    let http = http.clone();
                    let form = form.clone();
                    let url = url.clone();
                    async move {
                        let requests = (0..n).map(|_| {
                            let http = http.clone();
                            let form = form.clone();
                            let url = url.clone();
                            async move {
                                let r = http.post(&url).form(&form).send().await.unwrap();
                                assert_eq!(r.status(), 200);
                                r.bytes().await.unwrap()
                            }
                        });
                        futures_util::future::join_all(requests).await
                    }
                })
            },
        );
    }
    group.finish();
    drop(emulator);
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = signing, client_credentials
}
criterion_main!(benches);
