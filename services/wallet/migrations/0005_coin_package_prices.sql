-- The coin package price list the wallet checks purchases against: every price of
-- policy.coin_package_priced it accepted (the built-in defaults of shared/contract/defaults.py
-- need no row). A price is never changed: a new price is a new rate_version, and a price that
-- contradicts a stored one is dead-lettered instead. A batch loads the prices of the
-- rate_versions its purchases name.

CREATE TABLE coin_package_prices (
    rate_version  text   NOT NULL,
    package_id    text   NOT NULL,
    platform      text   NOT NULL,
    region        text   NOT NULL,
    coins         bigint NOT NULL,
    amount_minor  bigint NOT NULL,
    currency      text   NOT NULL,
    PRIMARY KEY (rate_version, package_id, platform, region)
);
