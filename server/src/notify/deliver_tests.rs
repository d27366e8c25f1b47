//! The embedded default end to end over the memory store: a sale's outbox row becomes an
//! `.eml` file under the mail directory, and an SMS line; a duplicate delivery sends nothing.

use cinebook_protocol::types::{Contact, PaymentMethod};

use super::deliver::{pass, MailTarget, NotifyConfig, SmsTarget};
use super::mail::file_name;
use super::message::{self, Details, NoticeKind};
use super::metrics::NotifyMetrics;
use crate::node::catalog::Catalog;
use crate::store::memory::MemoryStore;
use crate::store::Store;
use crate::testing::sample_sale;

#[tokio::test]
async fn without_smtp_a_sale_becomes_an_eml_file_and_an_sms_line_once() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = NotifyConfig::embedded(dir.path());
    config.ledger = None;
    assert_eq!(
        config.mail,
        MailTarget::EmlDir(dir.path().join("outbox-mail"))
    );
    assert_eq!(
        config.sms,
        SmsTarget::File(dir.path().join("outbox-sms.jsonl"))
    );
    let notifier = config.notifier().expect("notifier");
    let store = MemoryStore::new();
    let mut sale = sample_sale("K7QX-3MPA-WH4C-9RTE", 1, &[1, 2], PaymentMethod::Cash, 5);
    sale.contact = Contact {
        email: Some("ana@example.ch".into()),
        phone: Some("+41 79 123 45 67".into()),
    };
    let details = Details {
        seats: message::labels(&sale.booking),
        amount: sale.booking.total.to_string(),
        ..Details::default()
    };
    let row = message::build(
        &Catalog::default(),
        NoticeKind::BookingConfirmed,
        &sale.booking,
        details,
        5,
    );
    sale.outbox = vec![row.clone()];
    crate::testing::seed_catalog(&store, &crate::testing::sample_catalog()).await;
    let outcomes = store.commit_sales(std::slice::from_ref(&sale)).await;
    assert_eq!(outcomes, vec![crate::store::SaleOutcome::Committed]);
    let metrics = NotifyMetrics::default();
    let report = pass(&store, &notifier, &config, &metrics)
        .await
        .expect("pass");
    assert_eq!(report.sent, 1);
    let eml = dir
        .path()
        .join("outbox-mail")
        .join(format!("{}.eml", file_name(&row.id)));
    let text = std::fs::read_to_string(&eml).expect("the .eml file");
    assert!(
        text.contains("K7QX-3MPA-WH4C-9RTE") && text.contains("ticket-qr.svg"),
        "{text}"
    );
    let sms = std::fs::read_to_string(dir.path().join("outbox-sms.jsonl")).expect("sms");
    assert_eq!(sms.lines().count(), 1);
    assert!(sms.contains("+41 79 123 45 67"));
    // Sent rows are not delivered again; a redelivery of the same id is a duplicate.
    assert_eq!(
        pass(&store, &notifier, &config, &metrics)
            .await
            .expect("pass")
            .sent,
        0
    );
    let pending = store.outbox_pending(u64::MAX, 10).await.expect("pending");
    assert!(pending.is_empty());
    let delivery = super::message::Delivery {
        id: row.id.clone(),
        notice: serde_json::from_str(&row.payload).expect("notice"),
        contact: sale.contact.clone(),
    };
    let again = notifier.deliver(&delivery).await.expect("deliver");
    assert_eq!((again.emails, again.sms, again.duplicates), (0, 0, 2));
}
