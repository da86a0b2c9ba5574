//! What every HTTP surface shares, whether it answers programs (`api`) or
//! people (`web`): the problem-details error shape, the request log and its
//! metrics, the client's address, the edge guard, and the route tables'
//! builder. It knows neither surface, so both can lean on it.

pub mod client_address;
pub mod edge;
pub mod metrics;
pub mod problem;
pub mod request_log;
pub mod routes;
