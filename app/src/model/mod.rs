//! Plain data shared by areas, components and `platform/`: what the stores
//! persist and what more than one area shows. No views and no server code,
//! so it compiles for the server and the browser alike.

pub mod audit;
pub mod promotion;
pub mod quota;
pub mod team;
