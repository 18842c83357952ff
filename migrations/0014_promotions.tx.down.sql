DROP TABLE flash_claims;
DROP TABLE flash_sales;
DROP TABLE coupon_redemptions;
DROP TABLE coupons;
