-- What the user service said of each creator's age: minors may not receive gifts.
CREATE TABLE creator_ages (
    user_id  text PRIMARY KEY,
    adult    boolean NOT NULL
);
