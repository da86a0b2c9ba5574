//! A real DNS server on 127.0.0.1 (UDP and TCP, one random port) answering
//! TXT queries from records the test sets and removes while it runs: the
//! server verified domains are looked up at (`domains.resolver`). Names
//! without records answer NXDOMAIN, authoritatively. An answer larger than
//! plain DNS's 512 bytes goes out truncated over UDP and whole over TCP,
//! as a real server does, so the resolver's TCP fallback is exercised.
//!
//! Messages are parsed and written with hickory-proto (what the resolver
//! speaks); the sockets, the truncation and the record store are ours.

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The largest answer plain DNS carries over UDP (RFC 1035 4.2.1).
const UDP_LIMIT: usize = 512;

#[derive(Clone)]
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// Queries answered, by transport: ("udp" | "tcp", name).
    pub queries: Arc<Mutex<Vec<(&'static str, String)>>>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsServer {
    pub async fn start() -> Self {
        // One port for both: a free UDP port may be taken over TCP, so try
        // again with another until both bind.
        let mut tries = 0;
        let (udp, tcp, addr) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("udp bind");
            let addr = udp.local_addr().expect("udp addr");
            match TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp, addr),
                Err(error) => {
                    tries += 1;
                    assert!(tries < 50, "no port free over both UDP and TCP: {error}");
                }
            }
        };
        let server = Self {
            addr,
            records: Arc::default(),
            queries: Arc::default(),
        };
        let udp_server = server.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((len, peer)) = udp.recv_from(&mut buf).await {
                let Some(mut answer) = udp_server.answer(&buf[..len], "udp") else {
                    continue;
                };
                if answer.len() > UDP_LIMIT {
                    answer = udp_server.truncated(&buf[..len]).unwrap_or_default();
                }
                let _ = udp.send_to(&answer, peer).await;
            }
        });
        let tcp_server = server.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let server = tcp_server.clone();
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = stream.read_u16().await else {
                            return;
                        };
                        let mut buf = vec![0u8; usize::from(len)];
                        if stream.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        let Some(answer) = server.answer(&buf, "tcp") else {
                            return;
                        };
                        let Ok(len) = u16::try_from(answer.len()) else {
                            return;
                        };
                        if stream.write_u16(len).await.is_err()
                            || stream.write_all(&answer).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        server
    }

    /// Publishes one more TXT record at `name`.
    pub fn add_txt(&self, name: &str, value: &str) {
        self.records
            .lock()
            .unwrap()
            .entry(key(name))
            .or_default()
            .push(value.to_owned());
    }

    /// Removes every TXT record at `name`: it answers NXDOMAIN from now on.
    pub fn remove(&self, name: &str) {
        self.records.lock().unwrap().remove(&key(name));
    }

    /// How many queries for `name` came over `transport`.
    pub fn queries_for(&self, transport: &str, name: &str) -> usize {
        let name = key(name);
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, n)| *t == transport && *n == name)
            .count()
    }

    fn reply_to(request: &Message) -> Message {
        let mut response = Message::new();
        response
            .set_id(request.id())
            .set_message_type(MessageType::Response)
            .set_op_code(request.op_code())
            .set_authoritative(true)
            .set_recursion_desired(request.recursion_desired())
            .set_recursion_available(true);
        response.add_queries(request.queries().to_vec());
        response
    }

    fn answer(&self, raw: &[u8], transport: &'static str) -> Option<Vec<u8>> {
        let request = Message::from_vec(raw).ok()?;
        let mut response = Self::reply_to(&request);
        let records = self.records.lock().unwrap().clone();
        let mut found_name = false;
        for query in request.queries() {
            let name = key(&query.name().to_ascii());
            self.queries.lock().unwrap().push((transport, name.clone()));
            let Some(values) = records.get(&name) else {
                continue;
            };
            found_name = true;
            if query.query_type() == RecordType::TXT {
                for value in values {
                    response.add_answer(Record::from_rdata(
                        query.name().clone(),
                        60,
                        RData::TXT(TXT::new(vec![value.clone()])),
                    ));
                }
            }
        }
        if !found_name {
            response.set_response_code(ResponseCode::NXDomain);
        }
        response.to_vec().ok()
    }

    /// The header and question alone, with TC set: "ask again over TCP".
    fn truncated(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let request = Message::from_vec(raw).ok()?;
        let mut response = Self::reply_to(&request);
        response.set_truncated(true);
        response.to_vec().ok()
    }
}
