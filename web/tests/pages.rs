//! The server-rendered pages over real sockets: the steps render, and the seat map of the
//! 400-seat sample hall is an SVG with every seat focusable and marked.

mod support;

use support::{Site, SHOW};

#[tokio::test]
async fn the_steps_render_and_the_seat_map_marks_every_seat() {
    let site = Site::start(|_| {}).await;
    let index = site.get("/", None).await;
    assert_eq!(index.status, 200);
    assert!(index.json.as_str().expect("html").contains("Zürich"));
    let shows = site.get("/shows?city=1&date=2100-01-01", None).await;
    let html = shows.json.as_str().expect("html").to_string();
    assert!(html.contains(&format!("/show/{SHOW}")), "{html}");
    assert!(html.contains("400 of 400 seats free"));

    let map = site.get(&format!("/show/{SHOW}"), None).await;
    assert_eq!(map.status, 200);
    let html = map.json.as_str().expect("html").to_string();
    assert_eq!(html.matches("class=\"seat ").count(), 400);
    assert_eq!(html.matches("tabindex=\"0\"").count(), 400);
    assert!(html.contains("class=\"seat wheelchair\""));
    assert!(html.contains("class=\"seat companion\""));
    let script = site.get("/assets/seatmap.js", None).await;
    let style = site.get("/assets/site.css", None).await;
    let total = html.len()
        + script.json.as_str().expect("js").len()
        + style.json.as_str().expect("css").len();
    println!("seat-map page of a 400-seat hall: {total} bytes (html + js + css)");
    assert!(total < 100 * 1024, "the page weighs {total} bytes");

    let unknown = site.get("/show/424242", None).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown
        .json
        .as_str()
        .expect("html")
        .contains("role=\"alert\""));
    let no_booking = site.get("/booking/NOPE-0000", None).await;
    assert_eq!(no_booking.status, 404);
}
