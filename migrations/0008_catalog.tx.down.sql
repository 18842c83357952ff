DROP TABLE product_images, variant_prices, variants, product_options, product_translations, products,
  attribute_definitions, categories;
