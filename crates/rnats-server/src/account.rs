//! Accounts: isolated subject namespaces. Each account has its own
//! subscription index, so a message published in one account reaches only
//! subscribers of that account. Without an `accounts {}` block every client
//! is in the global account `$G`, as on nats-server.

use std::collections::HashMap;
use std::sync::Arc;

use crate::sublist::Sublist;
use crate::subscription::Subscription;

/// The account of clients not assigned to a named one.
pub const GLOBAL_ACCOUNT: &str = "$G";

pub struct Account {
    pub name: String,
    pub sublist: Sublist<Subscription>,
}

impl Account {
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Arc::new(Account {
            name: name.into(),
            sublist: Sublist::new(),
        })
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).finish()
    }
}

/// Every account of the server, by name.
#[derive(Debug)]
pub struct Accounts {
    global: Arc<Account>,
    by_name: HashMap<String, Arc<Account>>,
}

impl Accounts {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let global = Account::new(GLOBAL_ACCOUNT);
        let mut by_name = HashMap::from([(GLOBAL_ACCOUNT.to_string(), global.clone())]);
        for name in names {
            by_name
                .entry(name.to_string())
                .or_insert_with(|| Account::new(name));
        }
        Accounts { global, by_name }
    }

    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Account>> {
        self.by_name.get(name)
    }
}
