-- Search (tenants/search): one document per listed product, kept current by triggers on the
-- catalog's tables, so every write path (the API, the console, CSV import, moderation, a
-- merchant's suspension) updates search in its own transaction without the catalog knowing
-- search exists. Triggers rather than calls from tenants/catalog because catalog may not
-- import search (search reads catalog) and because a write path added later cannot forget them.
--
-- Only sellable products have a document: product active AND merchant active. Drafts, products
-- under review, archived products and suspended merchants' products have none, so no query can
-- show them by mistake.
--
-- Chinese: PostgreSQL has no Chinese parser, and the default parser reads a run of CJK
-- characters as one word ("无线蓝牙耳机"), which a search for "耳机" would never match. Documents
-- therefore also carry every CJK character and every pair of neighbouring CJK characters
-- (search_cjk) as 'simple' lexemes; tenants/search splits the query the same way, so a word of
-- two or more characters matches wherever it sits in a title or description.
--
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner that runs migrations may
-- create it. It gives typo tolerance (word_similarity on the titles).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- search_cjk lists the CJK characters of s, and each pair of neighbours within a run, separated
-- by spaces: '无线耳机' → '无 线 耳 机 无线 线耳 耳机'. Kana, hangul and the CJK ideograph blocks
-- count; everything else separates runs. tenants/search (cjkTerms) must agree with it.
CREATE FUNCTION search_cjk(s text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(substr(r.run, i, w.n), ' '), '')
  FROM regexp_split_to_table(
         regexp_replace(coalesce(s, ''), '[^\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+', ' ', 'g'),
         ' ') AS r(run),
       (VALUES (1), (2)) AS w(n),
       generate_series(1, length(r.run) - w.n + 1) AS i
  WHERE r.run <> ''
$$;

CREATE TABLE search_documents (
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  product_id    uuid NOT NULL,
  merchant_id   uuid NOT NULL,
  merchant_name text NOT NULL,
  slug          text NOT NULL,
  category_id   uuid,
  category_path uuid[] NOT NULL DEFAULT '{}', -- the category and all its ancestors: facet counts include descendants
  titles        jsonb NOT NULL DEFAULT '{}',  -- locale → title
  attributes    jsonb NOT NULL DEFAULT '{}',
  image_key     text NOT NULL DEFAULT '',
  -- currency → {"min": cheapest active variant's price, "compare_at": that variant's compare-at or null}
  prices        jsonb NOT NULL DEFAULT '{}',
  title_text    text NOT NULL DEFAULT '',     -- every title, lower case, for trigram matching
  document      tsvector NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, product_id),
  FOREIGN KEY (tenant_id, product_id, merchant_id) REFERENCES products (tenant_id, id, merchant_id) ON DELETE CASCADE
);
CREATE INDEX search_documents_document ON search_documents USING gin (document);
CREATE INDEX search_documents_title_trgm ON search_documents USING gin (title_text gin_trgm_ops);
CREATE INDEX search_documents_category ON search_documents USING gin (category_path);
CREATE INDEX search_documents_merchant ON search_documents (tenant_id, merchant_id);
SELECT enable_tenant_rls('search_documents');
SELECT enable_merchant_rls('search_documents', 'merchant_id');

-- search_refresh rewrites the document of one product from the catalog. It runs as the caller
-- (never SECURITY DEFINER), so RLS scopes it exactly like the write that fired it.
CREATE FUNCTION search_refresh(t uuid, p uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_documents WHERE tenant_id = t AND product_id = p;
  INSERT INTO search_documents (tenant_id, product_id, merchant_id, merchant_name, slug, category_id, category_path,
    titles, attributes, image_key, prices, title_text, document, updated_at)
  SELECT pr.tenant_id, pr.id, pr.merchant_id, m.name, pr.slug, pr.category_id, coalesce(cat.path, '{}'),
    coalesce(tr.titles, '{}'), pr.attributes, coalesce(img.key, ''), coalesce(pc.prices, '{}'),
    lower(coalesce(tr.title_text, '')),
    setweight(to_tsvector('english', coalesce(tr.title_text, '')), 'A') ||
    setweight(to_tsvector('simple', search_cjk(tr.title_text)), 'A') ||
    setweight(to_tsvector('english', coalesce(cat.names, '') || ' ' || coalesce(att.text, '')), 'B') ||
    setweight(to_tsvector('simple', search_cjk(coalesce(cat.names, '') || ' ' || coalesce(att.text, ''))), 'B') ||
    setweight(to_tsvector('english', coalesce(tr.descriptions, '')), 'C') ||
    setweight(to_tsvector('simple', search_cjk(tr.descriptions)), 'C'),
    now()
  FROM products pr
  JOIN merchants m ON m.tenant_id = pr.tenant_id AND m.id = pr.merchant_id AND m.status = 'active'
  LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(x.locale, x.title) AS titles, string_agg(x.title, ' ') AS title_text,
           string_agg(x.description, ' ') AS descriptions
    FROM product_translations x WHERE x.tenant_id = pr.tenant_id AND x.product_id = pr.id) tr ON true
  LEFT JOIN LATERAL (
    WITH RECURSIVE up AS (
      SELECT c.id, c.parent_id, c.name, 1 AS depth FROM categories c WHERE c.tenant_id = pr.tenant_id AND c.id = pr.category_id
      UNION ALL
      SELECT c.id, c.parent_id, c.name, up.depth + 1 FROM categories c JOIN up ON c.tenant_id = pr.tenant_id AND c.id = up.parent_id
      WHERE up.depth < 50)
    SELECT array_agg(up.id ORDER BY up.depth) AS path,
           (SELECT string_agg(n.value, ' ') FROM up u2, jsonb_each_text(u2.name) n) AS names
    FROM up) cat ON true
  LEFT JOIN LATERAL (
    SELECT string_agg(a.value, ' ') AS text FROM jsonb_each_text(pr.attributes) a) att ON true
  LEFT JOIN LATERAL (
    SELECT i.key FROM product_images i WHERE i.tenant_id = pr.tenant_id AND i.product_id = pr.id
    ORDER BY i.position, i.id LIMIT 1) img ON true
  LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(c.currency, jsonb_build_object('min', c.amount_minor, 'compare_at', c.compare_at_minor)) AS prices
    FROM (SELECT DISTINCT ON (vp.currency) vp.currency, vp.amount_minor, vp.compare_at_minor
          FROM variant_prices vp
          JOIN variants v ON v.tenant_id = vp.tenant_id AND v.id = vp.variant_id AND v.status = 'active'
          WHERE vp.tenant_id = pr.tenant_id AND v.product_id = pr.id
          ORDER BY vp.currency, vp.amount_minor, vp.compare_at_minor DESC NULLS LAST) c) pc ON true
  WHERE pr.tenant_id = t AND pr.id = p AND pr.status = 'active';
END $$;

-- One trigger function per shape of key: products, rows that name their product, variants'
-- prices (which name a variant), and the rows whose change touches many products. A row's
-- product never changes (ids and product_id are not updated), so the new row names the same
-- product as the old one.
CREATE FUNCTION search_product_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM search_refresh(OLD.tenant_id, OLD.id);
  ELSE
    PERFORM search_refresh(NEW.tenant_id, NEW.id);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION search_child_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM search_refresh(OLD.tenant_id, OLD.product_id);
  ELSE
    PERFORM search_refresh(NEW.tenant_id, NEW.product_id);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION search_price_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT DISTINCT v.tenant_id, v.product_id FROM variants v
    WHERE (TG_OP <> 'INSERT' AND v.tenant_id = OLD.tenant_id AND v.id = OLD.variant_id)
       OR (TG_OP <> 'DELETE' AND v.tenant_id = NEW.tenant_id AND v.id = NEW.variant_id)
  LOOP
    PERFORM search_refresh(r.tenant_id, r.product_id);
  END LOOP;
  RETURN NULL;
END $$;

-- A category renamed or moved changes the documents of every product at or below it; a
-- merchant renamed, suspended or reinstated changes all of its products.
CREATE FUNCTION search_many_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  IF TG_TABLE_NAME = 'categories' THEN
    FOR r IN SELECT d.tenant_id, d.product_id FROM search_documents d
             WHERE d.tenant_id = NEW.tenant_id AND d.category_path @> ARRAY[NEW.id]
    LOOP
      PERFORM search_refresh(r.tenant_id, r.product_id);
    END LOOP;
  ELSE
    FOR r IN SELECT pr.tenant_id, pr.id FROM products pr
             WHERE pr.tenant_id = NEW.tenant_id AND pr.merchant_id = NEW.id AND pr.status = 'active'
    LOOP
      PERFORM search_refresh(r.tenant_id, r.id);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER search_products AFTER INSERT OR DELETE OR UPDATE OF status, slug, category_id, attributes, merchant_id
  ON products FOR EACH ROW EXECUTE FUNCTION search_product_changed();
CREATE TRIGGER search_translations AFTER INSERT OR UPDATE OR DELETE
  ON product_translations FOR EACH ROW EXECUTE FUNCTION search_child_changed();
CREATE TRIGGER search_images AFTER INSERT OR UPDATE OR DELETE
  ON product_images FOR EACH ROW EXECUTE FUNCTION search_child_changed();
CREATE TRIGGER search_variants AFTER INSERT OR DELETE OR UPDATE OF status
  ON variants FOR EACH ROW EXECUTE FUNCTION search_child_changed();
CREATE TRIGGER search_prices AFTER INSERT OR UPDATE OR DELETE
  ON variant_prices FOR EACH ROW EXECUTE FUNCTION search_price_changed();
CREATE TRIGGER search_categories AFTER UPDATE OF name, parent_id
  ON categories FOR EACH ROW EXECUTE FUNCTION search_many_changed();
CREATE TRIGGER search_merchants AFTER UPDATE OF name, status
  ON merchants FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION search_many_changed();

-- The catalog's own writers (mercato_app, and mercato_platform for cross-tenant work) maintain
-- documents through the triggers, so they need to write them.
GRANT SELECT, INSERT, UPDATE, DELETE ON search_documents TO mercato_app, mercato_platform;
