//! `fed-pause`: the test bed's pod sandbox ("pause") binary. It holds the pod's namespaces by
//! sleeping forever, reaps zombies, and exits 0 on `SIGTERM`/`SIGINT`.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("fed-pause {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    fed_testbed_images::reap_children_forever()
}
