//! The connector as the SDK exports it: a configured [`Config`] per instance, and the alerts page
//! it is part-way through (see [`api::HeldPage`]).

use connector_sdk::http::Http;
use connector_sdk::{Connector, export_connector};

use crate::api;
use crate::settings::{self, Config};
use crate::wit::{
    AssetPage, CheckReport, ConnectorError, ConnectorSpec, FindingPage, FindingQuery, RuntimeInfo,
    Setting,
};

pub struct SocketConnector {
    config: Config,
    /// The alerts page the last call did not finish, for the calls that do.
    held: Option<api::HeldPage>,
}

impl Connector for SocketConnector {
    fn describe() -> ConnectorSpec {
        settings::spec()
    }

    fn configure(_: &RuntimeInfo, settings: Vec<Setting>) -> Result<Self, ConnectorError> {
        Config::parse(&settings).map(|config| SocketConnector { config, held: None })
    }

    fn check(&mut self, http: &mut dyn Http) -> Result<CheckReport, ConnectorError> {
        api::check(&self.config, http)
    }

    fn list_resources(
        &mut self,
        http: &mut dyn Http,
        cursor: Option<String>,
    ) -> Result<AssetPage, ConnectorError> {
        api::list_repos(&self.config, http, cursor.as_deref())
    }

    fn list_findings(
        &mut self,
        http: &mut dyn Http,
        query: FindingQuery,
    ) -> Result<FindingPage, ConnectorError> {
        api::list_alerts(&self.config, http, &query, &mut self.held)
    }
}

export_connector!(SocketConnector);
