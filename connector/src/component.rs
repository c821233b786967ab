//! The connector as the SDK exports it: a configured [`Config`] per run, one API call per page.

use connector_sdk::http::Http;
use connector_sdk::{Connector, export_connector};

use crate::api;
use crate::settings::{self, Config};
use crate::wit::{
    AssetPage, CheckReport, ConnectorError, ConnectorSpec, FindingPage, FindingQuery, RuntimeInfo,
    Setting,
};

pub struct SocketConnector(Config);

impl Connector for SocketConnector {
    fn describe() -> ConnectorSpec {
        settings::spec()
    }

    fn configure(_: &RuntimeInfo, settings: Vec<Setting>) -> Result<Self, ConnectorError> {
        Config::parse(&settings).map(SocketConnector)
    }

    fn check(&mut self, http: &mut dyn Http) -> Result<CheckReport, ConnectorError> {
        api::check(&self.0, http)
    }

    fn list_resources(
        &mut self,
        http: &mut dyn Http,
        cursor: Option<String>,
    ) -> Result<AssetPage, ConnectorError> {
        api::list_repos(&self.0, http, cursor.as_deref())
    }

    fn list_findings(
        &mut self,
        http: &mut dyn Http,
        query: FindingQuery,
    ) -> Result<FindingPage, ConnectorError> {
        api::list_alerts(&self.0, http, &query)
    }
}

export_connector!(SocketConnector);
