//! Node tests over real TCP and real MariaDB: the role matrix, table-driven. Each row is a
//! representative request; each column what a guest, kiosk, box-office, admin, node and web
//! terminal get for it (the node column: a node-role terminal token, which is no credential). A refused
//! request changes nothing.

mod support;

use cinebook_protocol::types::{
    BookingStatus, City, Money, Movie, Payment, PaymentMethod, Role, SeatState, ShowFilter,
};
use cinebook_protocol::{ErrorBody, ErrorCode, Reply, Request};
use cinebook_server::node::auth;
use support::{booked, held, TestClient, TestNode, SHOW};

/// The columns of the matrix.
const ROLES: [Role; 6] = [
    Role::Guest,
    Role::Kiosk,
    Role::BoxOffice,
    Role::Admin,
    Role::Node,
    Role::Web,
];

#[derive(Debug, Clone, Copy)]
enum Case {
    ListShows,
    GetSeatMap,
    Subscribe,
    Hold,
    ReleaseOwnHold,
    ConfirmCard,
    ConfirmCash,
    ConfirmComp,
    GetAnotherTerminalsBooking,
    Cancel,
    ListBookings,
    OwnShiftReport,
    AnotherTerminalsShiftReport,
    UpsertCity,
    UpsertMovie,
    BlockSeats,
    AddTerminal,
    ListTerminals,
    RevokeTerminal,
}

const OK: Option<ErrorCode> = None;
const UNAUTHENTICATED: Option<ErrorCode> = Some(ErrorCode::Unauthenticated);
const FORBIDDEN: Option<ErrorCode> = Some(ErrorCode::Forbidden);
const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::NotFound);

/// What each role gets: guest, kiosk, box-office, admin, and a node-role terminal token (as an
/// older version could store one). That token authenticates as nothing: only the cluster's
/// challenge-response gives the node role (tests/peer_auth.rs), so every request of its
/// connection is `Unauthenticated`. The web column: it sells through the gateway only (payment
/// orders), so every `Confirm` is `Forbidden`, and it administers and reports nothing.
const MATRIX: &[(Case, [Option<ErrorCode>; 6])] = &[
    (Case::ListShows, [OK, OK, OK, OK, UNAUTHENTICATED, OK]),
    (Case::GetSeatMap, [OK, OK, OK, OK, UNAUTHENTICATED, OK]),
    (Case::Subscribe, [OK, OK, OK, OK, UNAUTHENTICATED, OK]),
    (
        Case::Hold,
        [UNAUTHENTICATED, OK, OK, OK, UNAUTHENTICATED, OK],
    ),
    (
        Case::ReleaseOwnHold,
        [UNAUTHENTICATED, OK, OK, OK, UNAUTHENTICATED, OK],
    ),
    (
        Case::ConfirmCard,
        [UNAUTHENTICATED, OK, OK, OK, UNAUTHENTICATED, FORBIDDEN],
    ),
    (
        Case::ConfirmCash,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            OK,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::ConfirmComp,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            OK,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    // A kiosk sees only its own sales, and is not told that another's exists.
    (
        Case::GetAnotherTerminalsBooking,
        [
            UNAUTHENTICATED,
            NOT_FOUND,
            OK,
            OK,
            UNAUTHENTICATED,
            NOT_FOUND,
        ],
    ),
    (
        Case::Cancel,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            OK,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::ListBookings,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            OK,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::OwnShiftReport,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            OK,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::AnotherTerminalsShiftReport,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::UpsertCity,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::UpsertMovie,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::BlockSeats,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::AddTerminal,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::ListTerminals,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
    (
        Case::RevokeTerminal,
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            UNAUTHENTICATED,
            FORBIDDEN,
        ],
    ),
];

/// Everything a row needs besides the client under test.
struct Fixture<'a> {
    node: &'a TestNode,
    /// A box-office terminal that sets up sales and checks that refusals changed nothing.
    helper: TestClient,
    /// Distinguishes the ids each cell creates.
    cell: u64,
}

fn payment(method: PaymentMethod, total: &Money) -> Payment {
    Payment {
        method,
        amount: Money {
            amount_minor: if method == PaymentMethod::Comp {
                0
            } else {
                total.amount_minor
            },
            currency: total.currency.clone(),
        },
        reference: None,
    }
}

impl Fixture<'_> {
    /// A sale by the helper, for cancel and lookup cases.
    async fn helper_sale(&mut self) -> String {
        let hold = held(self.helper.hold_best(SHOW, 1, None).await);
        booked(
            self.helper
                .confirm(&hold, PaymentMethod::Cash, &format!("helper-{}", self.cell))
                .await,
        )
        .code
    }

    /// A hold by `client` if it may hold; otherwise a hold of the helper's (which `client`
    /// must not be able to use either).
    async fn some_hold(&mut self, client: &mut TestClient) -> cinebook_protocol::types::HoldInfo {
        match client.hold_best(SHOW, 1, None).await {
            Ok(Reply::Held(hold)) => hold,
            _ => held(self.helper.hold_best(SHOW, 1, None).await),
        }
    }

    async fn confirm(
        &mut self,
        client: &mut TestClient,
        method: PaymentMethod,
    ) -> Result<Reply, ErrorBody> {
        let hold = self.some_hold(client).await;
        let answer = client
            .call(Request::Confirm {
                hold_id: hold.hold_id,
                payment: payment(method, &hold.total),
                idempotency_key: format!("cell-{}", self.cell),
            })
            .await;
        if answer.is_err() {
            // Refused: the seat is still held, not sold.
            let map = self.helper.seat_map(SHOW).await;
            assert_eq!(map.states[hold.seats[0] as usize], SeatState::Held);
        }
        answer
    }

    async fn run(&mut self, case: Case, client: &mut TestClient) -> Result<Reply, ErrorBody> {
        let cell = self.cell;
        match case {
            Case::ListShows => client.call(Request::ListShows(ShowFilter::default())).await,
            Case::GetSeatMap => client.call(Request::GetSeatMap { show_id: SHOW }).await,
            Case::Subscribe => client.call(Request::Subscribe { show_id: SHOW }).await,
            Case::Hold => client.hold_best(SHOW, 2, None).await,
            Case::ReleaseOwnHold => {
                let hold = self.some_hold(client).await;
                client
                    .call(Request::Release {
                        hold_id: hold.hold_id,
                    })
                    .await
            }
            Case::ConfirmCard => self.confirm(client, PaymentMethod::Card).await,
            Case::ConfirmCash => self.confirm(client, PaymentMethod::Cash).await,
            Case::ConfirmComp => self.confirm(client, PaymentMethod::Comp).await,
            Case::GetAnotherTerminalsBooking => {
                let code = self.helper_sale().await;
                client.call(Request::GetBooking { code }).await
            }
            Case::Cancel => {
                let code = self.helper_sale().await;
                let answer = client
                    .call(Request::Cancel {
                        code: code.clone(),
                        refund: true,
                        reason: "role matrix".into(),
                    })
                    .await;
                let after = booked(self.helper.call(Request::GetBooking { code }).await);
                let want = if answer.is_ok() {
                    BookingStatus::Refunded
                } else {
                    BookingStatus::Confirmed
                };
                assert_eq!(after.status, want);
                answer
            }
            Case::ListBookings => client.call(Request::ListBookings { show_id: SHOW }).await,
            Case::OwnShiftReport => {
                client
                    .call(Request::ShiftReport {
                        terminal_id: None,
                        from_ms: 0,
                        to_ms: u64::MAX / 2,
                    })
                    .await
            }
            Case::AnotherTerminalsShiftReport => {
                let other = self.helper.terminal_id();
                client
                    .call(Request::ShiftReport {
                        terminal_id: Some(other),
                        from_ms: 0,
                        to_ms: u64::MAX / 2,
                    })
                    .await
            }
            Case::UpsertCity => {
                let city = City {
                    id: 700 + cell,
                    name: format!("City {cell}"),
                };
                let answer = client.call(Request::UpsertCity(city.clone())).await;
                let Ok(Reply::Cities(cities)) = self.helper.call(Request::ListCities).await else {
                    panic!("cities")
                };
                assert_eq!(cities.contains(&city), answer.is_ok());
                answer
            }
            Case::UpsertMovie => {
                let movie = Movie {
                    id: 7_000 + cell,
                    title: format!("Movie {cell}"),
                    runtime_min: 90,
                    rating: "PG".into(),
                };
                client.call(Request::UpsertMovie(movie)).await
            }
            Case::BlockSeats => {
                let hold = held(self.helper.hold_best(SHOW, 1, None).await);
                let seat = hold.seats[0];
                self.helper
                    .call(Request::Release {
                        hold_id: hold.hold_id,
                    })
                    .await
                    .expect("release");
                let answer = client
                    .call(Request::BlockSeats {
                        show_id: SHOW,
                        seats: vec![seat],
                        blocked: true,
                    })
                    .await;
                let map = self.helper.seat_map(SHOW).await;
                let want = if answer.is_ok() {
                    SeatState::Blocked
                } else {
                    SeatState::Free
                };
                assert_eq!(map.states[seat as usize], want);
                answer
            }
            Case::AddTerminal => {
                client
                    .call(Request::AddTerminal {
                        name: format!("added-{cell}"),
                        role: Role::Kiosk,
                    })
                    .await
            }
            Case::ListTerminals => client.call(Request::ListTerminals).await,
            Case::RevokeTerminal => {
                let token = auth::new_token();
                let id = self
                    .node
                    .store
                    .add_terminal(
                        &format!("spare-{cell}"),
                        Role::Kiosk,
                        &auth::token_sha256(&token),
                    )
                    .await
                    .expect("spare terminal");
                let answer = client
                    .call(Request::RevokeTerminal { terminal_id: id })
                    .await;
                // A revoked token no longer says hello; an unrevoked one does.
                let hello = tokio::spawn(say_hello(self.node.addr(), token)).await;
                assert_eq!(
                    hello.expect("hello task"),
                    answer.is_err(),
                    "the spare terminal's hello after {answer:?}"
                );
                answer
            }
        }
    }
}

/// Whether a hello with `token` is welcomed.
async fn say_hello(addr: std::net::SocketAddr, token: String) -> bool {
    let mut client = TestClient::connect_raw(addr).await;
    client
        .call(Request::Hello {
            version: cinebook_protocol::PROTOCOL_VERSION,
            client_name: "spare".into(),
            token: Some(token),
        })
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_matrix() {
    let node = TestNode::start().await;
    let node_token = node.add_terminal("peer", Role::Node).await;
    let web_token = node.add_terminal("web", Role::Web).await;
    let mut clients = Vec::new();
    for role in ROLES {
        let client = match role {
            Role::Guest => TestClient::connect(node.addr(), None).await,
            Role::Node => {
                let mut client = TestClient::connect_raw(node.addr()).await;
                let hello = client
                    .call(Request::Hello {
                        version: cinebook_protocol::PROTOCOL_VERSION,
                        client_name: "old-peer".into(),
                        token: Some(node_token.clone()),
                    })
                    .await;
                assert_eq!(
                    hello.err().map(|e| e.code),
                    Some(ErrorCode::Unauthenticated)
                );
                client
            }
            Role::Web => TestClient::connect(node.addr(), Some(web_token.clone())).await,
            role => node.client(role, 0).await,
        };
        match &client.welcome {
            Some(Reply::Welcome { role: got, .. }) => assert_eq!(*got, role),
            None if role == Role::Node => {}
            other => panic!("welcome: {other:?}"),
        }
        clients.push(client);
    }
    let mut fixture = Fixture {
        node: &node,
        helper: node.client(Role::BoxOffice, 1).await,
        cell: 0,
    };
    let mut failures = Vec::new();
    for (case, expected) in MATRIX {
        for ((role, client), want) in ROLES.iter().zip(clients.iter_mut()).zip(expected) {
            fixture.cell += 1;
            let answer = fixture.run(*case, client).await;
            let got = answer.as_ref().err().map(|e| e.code.clone());
            if got != *want {
                failures.push(format!(
                    "{case:?} as {}: want {}, got {answer:?}",
                    role.name(),
                    want.as_ref().map_or("ok", |c| c.name())
                ));
            }
        }
    }
    assert!(failures.is_empty(), "role matrix:\n{}", failures.join("\n"));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_in_the_database_is_refused_within_the_cache_ttl() {
    let config = cinebook_server::Config {
        terminal_cache_ttl_ms: 200,
        ..support::test_config()
    };
    let node = TestNode::start_with(config, None).await;
    let token = node.token(Role::Kiosk, 0);
    assert!(
        say_hello(node.addr(), token.clone()).await,
        "the token works"
    );
    // Revoke behind the node's back, as `cinebook-server terminal revoke` or another node does.
    let terminals = node.store.list_terminals().await.expect("terminals");
    let kiosk = terminals
        .iter()
        .find(|t| t.name == "kiosk-0")
        .expect("kiosk-0");
    node.store.revoke_terminal(kiosk.id).await.expect("revoke");
    assert!(
        say_hello(node.addr(), token.clone()).await,
        "still cached right after the revocation"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !say_hello(node.addr(), token).await,
        "refused once the cache entry is older than its ttl"
    );
    node.stop().await;
}
