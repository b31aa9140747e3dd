use msal_core::scopes;

fn main() {
    let _ = scopes![
        "https://graph.microsoft.com/.default",
        "https://management.azure.com/.default",
    ];
}
