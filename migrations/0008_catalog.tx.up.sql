-- The catalog: categories (a tree per tenant), attribute definitions, products with their
-- translations, options, variants, prices and image references. Merchant-owned tables carry
-- merchant_id and the merchant fence; child rows reach their product through an FK that
-- includes merchant_id, so a child can never sit under another merchant's product.

CREATE TABLE categories (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id         uuid NOT NULL DEFAULT uuidv7(),
  parent_id  uuid,
  slug       text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$'),
  name       jsonb NOT NULL CHECK (jsonb_typeof(name) = 'object' AND name ? 'en'), -- {"en": .., "zh-CN": ..}
  position   integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, slug),
  CHECK (parent_id IS DISTINCT FROM id),
  -- RESTRICT: a category with children cannot vanish and orphan a subtree.
  FOREIGN KEY (tenant_id, parent_id) REFERENCES categories (tenant_id, id) ON DELETE RESTRICT
);
CREATE INDEX categories_parent ON categories (tenant_id, parent_id);
SELECT enable_tenant_rls('categories');

-- Attributes a tenant lets products carry, typed so that filters compare like with like.
-- Numbers are whole numbers (grams, millimetres, counts): there is no float in the catalog.
CREATE TABLE attribute_definitions (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  code       text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
  type       text NOT NULL CHECK (type IN ('text', 'integer', 'boolean', 'enum')),
  name       jsonb NOT NULL CHECK (jsonb_typeof(name) = 'object' AND name ? 'en'),
  choices    text[] NOT NULL DEFAULT '{}', -- for enum
  filterable boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, code),
  CHECK ((type = 'enum') = (cardinality(choices) > 0))
);
SELECT enable_tenant_rls('attribute_definitions');

CREATE TABLE products (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT uuidv7(),
  merchant_id  uuid NOT NULL,
  slug         text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$'),
  status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'pending_review', 'active', 'archived')),
  category_id  uuid,
  attributes   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  review_note  text NOT NULL DEFAULT '' CHECK (length(review_note) <= 1000),
  submitted_at timestamptz,
  reviewed_at  timestamptz,
  reviewed_by  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, slug),
  UNIQUE (tenant_id, id, merchant_id), -- target of the children's FKs
  FOREIGN KEY (tenant_id, merchant_id) REFERENCES merchants (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, category_id) REFERENCES categories (tenant_id, id) ON DELETE SET NULL (category_id)
);
CREATE INDEX products_status ON products (tenant_id, status, id);
CREATE INDEX products_merchant ON products (tenant_id, merchant_id, id);
CREATE INDEX products_category ON products (tenant_id, category_id, id);
CREATE INDEX products_attributes ON products USING gin (attributes jsonb_path_ops);
SELECT enable_tenant_rls('products');
SELECT enable_merchant_rls('products', 'merchant_id');

CREATE TABLE product_translations (
  tenant_id   uuid NOT NULL,
  product_id  uuid NOT NULL,
  merchant_id uuid NOT NULL,
  locale      text NOT NULL CHECK (locale ~ '^[a-z]{2}(-[A-Z][A-Za-z]{1,3})?$'),
  title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
  PRIMARY KEY (tenant_id, product_id, locale),
  FOREIGN KEY (tenant_id, product_id, merchant_id) REFERENCES products (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('product_translations');
SELECT enable_merchant_rls('product_translations', 'merchant_id');

-- An option is an axis of variation (size, colour); variants pick one value per option code.
CREATE TABLE product_options (
  tenant_id   uuid NOT NULL,
  id          uuid NOT NULL DEFAULT uuidv7(),
  product_id  uuid NOT NULL,
  merchant_id uuid NOT NULL,
  code        text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
  name        jsonb NOT NULL CHECK (jsonb_typeof(name) = 'object' AND name ? 'en'),
  "values"    text[] NOT NULL CHECK (cardinality("values") > 0),
  position    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, product_id, code),
  FOREIGN KEY (tenant_id, product_id, merchant_id) REFERENCES products (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('product_options');
SELECT enable_merchant_rls('product_options', 'merchant_id');

CREATE TABLE variants (
  tenant_id     uuid NOT NULL,
  id            uuid NOT NULL DEFAULT uuidv7(),
  product_id    uuid NOT NULL,
  merchant_id   uuid NOT NULL,
  sku           text NOT NULL CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  option_values jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(option_values) = 'object'),
  weight_grams  integer CHECK (weight_grams >= 0),
  length_mm     integer CHECK (length_mm >= 0),
  width_mm      integer CHECK (width_mm >= 0),
  height_mm     integer CHECK (height_mm >= 0),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
  position      integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, sku),
  UNIQUE (tenant_id, id, merchant_id),
  FOREIGN KEY (tenant_id, product_id, merchant_id) REFERENCES products (tenant_id, id, merchant_id) ON DELETE CASCADE
);
CREATE INDEX variants_product ON variants (tenant_id, product_id);
SELECT enable_tenant_rls('variants');
SELECT enable_merchant_rls('variants', 'merchant_id');

CREATE TABLE variant_prices (
  tenant_id        uuid NOT NULL,
  variant_id       uuid NOT NULL,
  merchant_id      uuid NOT NULL,
  currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  amount_minor     bigint NOT NULL CHECK (amount_minor >= 0),
  compare_at_minor bigint CHECK (compare_at_minor > amount_minor),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, variant_id, currency),
  FOREIGN KEY (tenant_id, variant_id, merchant_id) REFERENCES variants (tenant_id, id, merchant_id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('variant_prices');
SELECT enable_merchant_rls('variant_prices', 'merchant_id');

-- An image row is a reference to an object the media slice stores; key is its object key.
CREATE TABLE product_images (
  tenant_id   uuid NOT NULL,
  id          uuid NOT NULL DEFAULT uuidv7(),
  product_id  uuid NOT NULL,
  merchant_id uuid NOT NULL,
  key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 1024),
  alt         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(alt) = 'object'),
  position    integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, product_id, merchant_id) REFERENCES products (tenant_id, id, merchant_id) ON DELETE CASCADE
);
CREATE INDEX product_images_product ON product_images (tenant_id, product_id, position);
SELECT enable_tenant_rls('product_images');
SELECT enable_merchant_rls('product_images', 'merchant_id');

GRANT SELECT, INSERT, UPDATE, DELETE ON categories, attribute_definitions, products, product_translations,
  product_options, variants, variant_prices, product_images TO mercato_app, mercato_platform;
